//! [`StreamTime`]: a stream's event time as its consumer group has delivered it, kept on the
//! server, so that every consumer of the group judges lateness against the same prefix of the
//! stream as one reader of the whole stream would.
//!
//! One reader of a stream takes an event as late when an earlier event of the stream (in
//! stream order) was stamped far enough ahead of it. Several consumers each see a share of
//! the stream: the largest time a consumer has seen itself is below the stream's, so on its
//! own it would keep events that one reader drops. The read of new entries is a script that
//! delivers the entries (`XREADGROUP ... >`) and, in the same step, updates the largest time
//! over every entry the group has delivered: each read learns the stream time of the whole
//! prefix before it ([`Entry::stream_time`](super::Entry::stream_time)).

use redis::aio::ConnectionManager;
use redis::{RedisResult, Value};

use super::source::StreamGroup;

/// Which entries of a stream count toward its event time, and where their time is: the
/// entries a reader would admit as events. An entry counts when its fields are all UTF-8,
/// its time field holds a whole number of milliseconds (below 2^64, surrounded by white
/// space or not, as Rust's `u64` parsing takes it after `trim`), its number field (if any)
/// a finite number within the bounds given (as Rust's `f64` parsing takes it after `trim`),
/// and each field named [`present`](Self::present) is there. An entry without a time field
/// does not count (a reader stamps it with the time it reads it).
///
/// ```
/// use weir::io::redis::{StreamGroup, StreamTime};
///
/// let time = StreamTime::new("timestamp")
///     .number("value", Some(0.0), None)
///     .present("source");
/// let group = StreamGroup::new("events", "weir", "worker-1").stream_time(time);
/// # let _ = group;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct StreamTime {
    time: String,
    number: Option<(String, Option<f64>, Option<f64>)>,
    present: Vec<String>,
}

impl StreamTime {
    /// Entries whose field `time` holds their event time, in ms.
    pub fn new(time: &str) -> Self {
        StreamTime {
            time: time.to_owned(),
            number: None,
            present: Vec::new(),
        }
    }

    /// Counts only entries whose field `field` is a finite number, at least `min` and at
    /// most `max` when given.
    ///
    /// # Panics
    ///
    /// If `min` or `max` is not finite.
    #[track_caller]
    pub fn number(mut self, field: &str, min: Option<f64>, max: Option<f64>) -> Self {
        for (name, bound) in [("min", min), ("max", max)] {
            assert!(
                bound.is_none_or(f64::is_finite),
                "StreamTime::number: `{name}` must be finite, got {bound:?}"
            );
        }
        self.number = Some((field.to_owned(), min, max));
        self
    }

    /// Counts only entries that have a field `field`.
    pub fn present(mut self, field: &str) -> Self {
        self.present.push(field.to_owned());
        self
    }
}

/// The read of new entries. `KEYS`: the stream and the key of its stream time. `ARGV`: the
/// group, the consumer, the count, the time field, the number field (`''` for none), its
/// least and greatest values (`''` for none), then the fields that must be present. Returns
/// the stream time before the entries (nil if none yet), the `XREADGROUP` reply (nil if
/// nothing new), and, when nothing was new, the id of the stream's last entry, to wait for
/// entries after it.
const READ: &str = r"
local function valid(s)
  if not s:find('[\128-\255]') then return true end
  local i, n = 1, #s
  while i <= n do
    local c = s:byte(i)
    local more, lo, hi = 0, 0x80, 0xBF
    if c < 0x80 then more = 0
    elseif c >= 0xC2 and c <= 0xDF then more = 1
    elseif c == 0xE0 then more, lo = 2, 0xA0
    elseif c >= 0xE1 and c <= 0xEC then more = 2
    elseif c == 0xED then more, hi = 2, 0x9F
    elseif c >= 0xEE and c <= 0xEF then more = 2
    elseif c == 0xF0 then more, lo = 3, 0x90
    elseif c >= 0xF1 and c <= 0xF3 then more = 3
    elseif c == 0xF4 then more, hi = 3, 0x8F
    else return false end
    for j = 1, more do
      local d = s:byte(i + j)
      if not d or d < lo or d > hi then return false end
      lo, hi = 0x80, 0xBF
    end
    i = i + more + 1
  end
  return true
end
local function millis(s)
  if #s < 20 and s:find('^[1-9]%d*$') then return s end
  local d = s:match('^%s*%+?(%d+)%s*$')
  if not d then return nil end
  d = d:gsub('^0+', '')
  if d == '' then d = '0' end
  if #d > 20 or (#d == 20 and d > '18446744073709551615') then return nil end
  return d
end
local function later(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
local function number(s)
  local v
  if s:find('^%-?%d+%.?%d*$') then
    v = tonumber(s)
  else
    local t = s:match('^%s*(.-)%s*$')
    local body = t:match('^[+-]?(.*)$')
    local mantissa = body:match('^(.-)[eE][+-]?%d+$') or body
    if not (mantissa:match('^%d*%.?%d*$') and mantissa:find('%d')) then return nil end
    v = tonumber(t)
  end
  if not v or v ~= v or v == math.huge or v == -math.huge then return nil end
  return v
end
local time, field = ARGV[4], ARGV[5]
local least, greatest = tonumber(ARGV[6]), tonumber(ARGV[7])
local wanted, nwanted = {}, 0
for i = 8, #ARGV do
  if not wanted[ARGV[i]] then wanted[ARGV[i]] = 0; nwanted = nwanted + 1 end
end
local before = redis.call('GET', KEYS[2])
local read = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], '>')
if not read then
  local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
  return {before, false, last[1] and last[1][1] or '0-0'}
end
local latest, find = before, string.find
for n, entry in ipairs(read[1][2]) do
  local kv = entry[2]
  local t, v, ok, seen = nil, nil, true, 0
  for i = 1, #kv, 2 do
    local k, x = kv[i], kv[i + 1]
    if (find(k, '[\128-\255]') or find(x, '[\128-\255]')) and not (valid(k) and valid(x)) then
      ok = false
      break
    end
    if k == time then t = x elseif k == field then v = x end
    local w = wanted[k]
    if w and w ~= n then wanted[k] = n; seen = seen + 1 end
  end
  if ok and t and seen == nwanted then
    t = millis(t)
    if t and field ~= '' then
      v = v and number(v)
      if not v or (least and v < least) or (greatest and v > greatest) then t = nil end
    end
    if t and (not latest or later(t, latest)) then latest = t end
  end
end
if latest ~= before then redis.call('SET', KEYS[2], latest) end
return {before, read, false}
";

/// A read of new entries through [`READ`]: the stream time before them, the reply, and,
/// when nothing was new, the id of the stream's last entry.
pub(super) async fn read_new(
    conn: &mut ConnectionManager,
    g: &StreamGroup,
    count: usize,
    time: &StreamTime,
) -> RedisResult<(Option<u64>, Value, Option<String>)> {
    let mut eval = redis::cmd("EVAL");
    eval.arg(READ)
        .arg(2)
        .arg(g.stream())
        .arg(g.stream_time_key());
    eval.arg(g.group()).arg(g.consumer()).arg(count);
    eval.arg(&time.time);
    match &time.number {
        Some((field, min, max)) => {
            let bound = |b: &Option<f64>| b.map(|b| format!("{b:e}")).unwrap_or_default();
            eval.arg(field).arg(bound(min)).arg(bound(max))
        }
        None => eval.arg("").arg("").arg(""),
    };
    eval.arg(&time.present);
    let (before, reply, last): (Option<String>, Value, Option<String>) =
        eval.query_async(conn).await?;
    // The script keeps only whole numbers below 2^64.
    let before = before.and_then(|b| b.parse().ok());
    Ok((before, reply, last))
}
