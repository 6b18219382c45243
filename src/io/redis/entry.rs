//! [`Entry`]: one stream entry as a source hands it out, and the replies it is read from.

use redis::{RedisResult, Value};

use crate::sync::StdArc as Arc;

/// One stream entry: its id and its fields. Names and values are read as bytes and taken
/// as UTF-8; bytes that are not are replaced (U+FFFD) and the entry says so
/// ([`replaced`](Self::replaced)), so that one such entry never stops a read of the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry's id (`1700000000000-0`), what [`Acker::ack`](super::Acker::ack) takes.
    pub id: String,
    /// Its fields, names and values in the order the entry holds them.
    pub fields: Vec<(String, String)>,
    /// Whether it was delivered before: re-read from this consumer's pending entries after
    /// a restart, or claimed from a consumer that stopped.
    pub redelivered: bool,
    /// Whether a field's name or value held bytes that are not UTF-8 (replaced in
    /// `fields`): such an entry cannot be read as it was written; dead-letter it.
    pub replaced: bool,
    /// For an entry that another consumer held before (claimed from it), or that this
    /// consumer's name held before this source started: who, and what its last commit had
    /// recorded by then. `None` for a new entry, and for one read again after a failed read.
    pub previous: Option<Arc<Previous>>,
    /// With a [stream time](super::StreamGroup::stream_time), for an entry read new: the largest
    /// time among the entries the group delivered (to any consumer) before this entry's read,
    /// as [`StreamTime`](super::StreamTime) counts them. For an entry read again or claimed: the largest time
    /// among every entry delivered before it, its own read's earlier entries too (it was read
    /// long before; see [`StreamTime`](super::StreamTime)). `None` when there was none, without a stream time,
    /// and, without a `claim_idle`, for an entry read again whose read is not folded and
    /// cannot be taken over (a read after it not posted either, by a reader still connected:
    /// with one, a re-read waits for that, and a claim leaves such an entry pending).
    pub stream_time: Option<u64>,
    /// The group's count of the claims that took entries from a consumer
    /// ([`StreamGroup::taken_key`](super::StreamGroup::taken_key)), as the server held it before this entry's read
    /// delivered it (for an entry claimed, right after its claim). While the count stays
    /// there, the entry is this consumer's: a [commit](super::Committer) of entries all read
    /// under the count the group holds skips checking them one by one
    /// ([`Acks`](super::Acks)). `None` for an entry made by hand ([`Entry::new`]).
    pub taken: Option<u64>,
}

/// The consumer that held an entry before, and the progress its last commit recorded in the
/// [ledger](super::StreamGroup::ledger) (read in the same script as the claim, or before the
/// re-read of a restarted consumer's entries; `None` without a ledger or a commit). What it
/// derived from the entry up to that progress was committed already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Previous {
    /// Its consumer name.
    pub consumer: String,
    /// Its last recorded progress.
    pub progress: Option<String>,
}

impl Entry {
    /// An entry read new, with `fields` and nothing known of its read: not redelivered,
    /// no [stream time](Self::stream_time), no [count of claims](Self::taken).
    pub fn new(id: String, fields: Vec<(String, String)>) -> Entry {
        Entry {
            id,
            fields,
            redelivered: false,
            replaced: false,
            previous: None,
            stream_time: None,
            taken: None,
        }
    }

    /// The value of field `name` (the last one, if the entry repeats the name).
    pub fn field(&self, name: &str) -> Option<&str> {
        // Entries hold a few fields: a scan beats hashing the name.
        self.fields
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The entry of `[id, [name, value, ...]]`; `None` for anything else (an entry deleted
    /// while pending comes as `[id, nil]`: nothing to read).
    pub(super) fn from_value(value: Value, redelivered: bool) -> Option<Self> {
        let Value::Array(mut parts) = value else {
            return None;
        };
        if parts.len() != 2 {
            return None;
        }
        let (Value::Array(pairs), id) = (parts.pop()?, parts.pop()?) else {
            return None;
        };
        let mut replaced = false;
        let mut text = |v: Value| match v {
            // Valid UTF-8 (the usual case) is moved, not copied.
            Value::BulkString(bytes) => String::from_utf8(bytes).unwrap_or_else(|e| {
                replaced = true;
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }),
            Value::SimpleString(s) => s,
            Value::Int(n) => n.to_string(),
            other => format!("{other:?}"),
        };
        let id = text(id);
        let mut fields = Vec::with_capacity(pairs.len() / 2);
        let mut pairs = pairs.into_iter();
        while let (Some(name), Some(value)) = (pairs.next(), pairs.next()) {
            let name = text(name);
            fields.push((name, text(value)));
        }
        Some(Entry {
            id,
            fields,
            redelivered,
            replaced,
            previous: None,
            stream_time: None,
            taken: None,
        })
    }
}

/// A count a `GET` or an `HGET` read (none is 0).
pub(super) fn count_of(reply: Option<Value>) -> RedisResult<u64> {
    let count: Option<u64> = redis::from_redis_value(reply.unwrap_or(Value::Nil))?;
    Ok(count.unwrap_or(0))
}

/// The entries of an `XREADGROUP` reply (`nil` when a blocking read found nothing), read as
/// bytes: `[[stream, [entry, ...]], ...]`.
pub(super) fn read_reply(reply: Value, redelivered: bool) -> Vec<Entry> {
    let Value::Array(streams) = reply else {
        return Vec::new();
    };
    streams
        .into_iter()
        .filter_map(|stream| match stream {
            Value::Array(mut parts) if parts.len() == 2 => parts.pop(),
            _ => None,
        })
        .flat_map(|entries| match entries {
            Value::Array(entries) => entries,
            _ => Vec::new(),
        })
        .filter_map(|entry| Entry::from_value(entry, redelivered))
        .collect()
}
