#!/usr/bin/env bash
# Applies plausible concurrency bugs to weir's shared-state code, one at a time, runs the loom
# models on each, and prints which model caught it. A mutant is caught when at least one loom
# model fails (an assertion, a deadlock loom reports, or a panic). Exit status 1 if any mutant
# got past every model, or if one no longer applies to the code (its text was not found once).
#
#   scripts/loom-mutants.sh                  # every mutant
#   scripts/loom-mutants.sh merge-           # the mutants whose name contains "merge-"
#   scripts/loom-mutants.sh 'merge-|ring-'   # ... "merge-" or "ring-"
#
# The mutants are applied to a copy of the working tree; the tree itself is never touched.
# Builds go to target/loom-mutants, so only the first build is a full one.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
filter="${1:-}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# `-m`: the copy's files get the time of the copy, newer than anything built before, so the
# first build (the baseline) cannot reuse the last mutant of an earlier run from the shared
# target directory.
tar -C "$root" --exclude=./target --exclude=./.git -cf - . | tar -C "$work" -xmf -
export CARGO_TARGET_DIR="$root/target/loom-mutants"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
export CARGO_TERM_COLOR=never
log="$work/loom.log"

# Runs the loom models in the copy; prints the names of the models that failed.
run_models() {
    if (cd "$work" && timeout 600 cargo test --release --features loom,redis --lib -- loom:: \
        >"$log" 2>&1); then
        return 0
    fi
    if grep -q 'could not compile' "$log"; then
        echo "(does not compile)"
        return 1
    fi
    # The models that failed; a model that panicked inside a drop aborts the whole test
    # binary before it reports FAILED, so the panicking threads are named as well.
    local failed
    failed="$( (sed -n 's/^test \(.*\) \.\.\. FAILED$/\1/p' "$log"
        sed -n "s/^thread '\([^']*::loom::[^']*\)'.* panicked at.*/\1/p" "$log") |
        sed -e 's/::loom::/::/' -e 's/^channel:://' | sort -u)"
    if [ -z "$failed" ]; then
        echo "(timed out or aborted)"
    else
        echo "$failed" | paste -sd ' ' -
    fi
    return 1
}

names=() files=() edits=()
# mutant NAME FILE FROM TO [FROM TO]...: in FILE, each FROM (which must occur exactly once)
# becomes its TO.
mutant() {
    local name="$1" file="$2"
    shift 2
    names+=("$name")
    files+=("$file")
    local pairs=""
    while [ "$#" -gt 0 ]; do
        pairs+="$(printf '%s\0%s\0' "$1" "$2" | base64 -w0) "
        shift 2
    done
    edits+=("$pairs")
}

# Replaces each FROM by its TO in FILE; fails unless each FROM occurs exactly once.
apply() {
    local file="$1" pairs="$2" pair
    for pair in $pairs; do
        PAIR="$pair" perl -0777 -i -e '
            use MIME::Base64;
            my ($from, $to) = split /\0/, decode_base64($ENV{PAIR}), -1;
            local $/; my $text = <>;
            my $count = () = $text =~ /\Q$from\E/g;
            die "found $count times: $from\n" unless $count == 1;
            $text =~ s/\Q$from\E/$to/;
            print $text;
        ' "$file" || return 1
    done
}

# ---- sync: the waker cell ----
mutant "waker-cell-keeps-first-waker" src/sync/mod.rs \
    'Some(held) if held.will_wake(waker) => {}' 'Some(_) => {}'
mutant "waker-cell-drops-the-wake" src/sync/mod.rs \
    'if let Some(waker) = taken {
            waker.wake();' 'if let Some(waker) = taken {
            drop(waker);'

# ---- operator counters ----
mutant "counters-overwritten-not-added" src/stats/mod.rs \
    'counter.store(counter.load(Ordering::Relaxed) + n, Ordering::Relaxed);' \
    'counter.store(n, Ordering::Relaxed);'
mutant "counters-record-is-a-load-and-a-store" src/stats/mod.rs \
    'self.dropped.fetch_add(n, Ordering::Relaxed);' \
    'self.dropped.store(self.dropped.load(Ordering::Relaxed) + n, Ordering::Relaxed);'

# ---- the windows' underway flag ----
mutant "underway-raise-is-not-counted" src/window/underway/mod.rs \
    'self.word.fetch_add(CHANGE + GUARD, Ordering::SeqCst);' \
    'self.word.fetch_add(GUARD, Ordering::SeqCst);'
mutant "underway-raise-is-a-load-and-a-store" src/window/underway/mod.rs \
    'self.word.fetch_add(CHANGE + GUARD, Ordering::SeqCst);' \
    'self.word.store(self.word.load(Ordering::SeqCst) + CHANGE + GUARD, Ordering::SeqCst);'
mutant "underway-heard-overwrites-a-later-instant" src/window/underway/mod.rs \
    'heard.at.fetch_max(micros + 1, Ordering::SeqCst);' 'heard.at.store(micros + 1, Ordering::SeqCst);'

# ---- ring channel ----
mutant "ring-send-does-not-wake-receiver" src/channel/ring/sender.rs \
    'Offer::Done(dropped, state.receiver.take())' 'Offer::Done(dropped, None)'
mutant "ring-receiver-keeps-first-waker" src/channel/ring/receiver.rs \
    'Some(held) if held.will_wake(cx.waker()) => {}
        _ => state.receiver' 'Some(_) => {}
        None => state.receiver'
mutant "ring-receive-does-not-free-a-waiting-sender" src/channel/ring/receiver.rs \
    'let wakers = state.grant_if_waiting(shared.capacity);
    drop(state);
    add_as_sole_writer(&shared.stats.processed, n);' 'let wakers = state.grant_if_waiting(shared.capacity).map(|_| Wakers::default());
    drop(state);
    add_as_sole_writer(&shared.stats.processed, n);'
mutant "ring-receive-fast-path-ignores-waiting-senders" src/channel/ring/receiver.rs \
    'if state.blocked.is_empty() {' 'if true {'
mutant "ring-send-fast-path-does-not-wake-receiver" src/channel/ring/sender.rs \
    'let waker = state.receiver.take();
            drop(state);' 'let waker: Option<Waker> = None;
            drop(state);'
mutant "ring-received-counted-outside-the-lock" src/channel/ring/sender.rs \
    'drops what it held).
        add_as_sole_writer(&shared.stats.received, 1);' 'drops what it held).' \
    'let offer = self.offer(&mut self.shared.lock(), item, None);' 'let offer = self.offer(&mut self.shared.lock(), item, None);
        add_as_sole_writer(&self.shared.stats.received, 1);'
mutant "ring-cancelled-send-keeps-its-turn" src/channel/ring/sender.rs \
    'state.promised.swap_remove(at);
                    state.grant(shared.capacity)' 'state.promised.swap_remove(at);
                    Wakers::default()'
mutant "ring-last-sender-does-not-wake-receiver" src/channel/ring/sender.rs \
    'if state.senders == 0 {
                state.receiver.take()' 'if state.senders == 0 {
                state.receiver.take().filter(|_| false)'
mutant "ring-sender-clone-not-counted" src/channel/ring/sender.rs \
    'self.shared.lock().senders += 1;' 'drop(self.shared.lock());'
mutant "ring-receiver-drop-does-not-release-senders" src/channel/ring/receiver.rs \
    'for (_, waker) in blocked {
            waker.wake();' 'for (_, waker) in blocked {
            drop(waker);'
mutant "ring-close-does-not-release-senders" src/channel/ring/receiver.rs \
    'wakers
        };
        wake_all(wakers);' 'wakers
        };
        drop(wakers);'
mutant "ring-try-recv-does-not-free-a-waiting-sender" src/channel/ring/receiver.rs \
    '(item, over, state.grant_if_waiting(self.shared.capacity))' \
    '(item, over, Option::<Wakers>::None)'
mutant "ring-freed-slot-goes-to-the-newest-sender" src/channel/ring/mod.rs \
    'self.blocked.pop_front().expect("not empty");' 'self.blocked.pop_back().expect("not empty");'
mutant "ring-promised-slot-not-consumed" src/channel/ring/sender.rs \
    'if let Some(at) = promised {
            state.promised.swap_remove(at);' 'if let Some(at) = promised {
            let _ = at;'
mutant "ring-waiting-send-keeps-first-waker" src/channel/ring/sender.rs \
    'if !held.will_wake(cx.waker()) {
                            *held = cx.waker().clone();
                        }' 'let _ = held;'
mutant "ring-closed-receiver-waits-for-live-senders" src/channel/ring/receiver.rs \
    'cx: &Context<'"'"'_>) -> bool {
    if state.senders == 0 || !state.receiver_alive {' 'cx: &Context<'"'"'_>) -> bool {
    if state.senders == 0 {'

# ---- broadcast ----
mutant "broadcast-blocked-feed-does-not-wake-subscribers" src/channel/broadcast/publisher.rs \
    '(Err(Full(item)), std::mem::take(&mut state.waiting))' \
    '(Err(Full(item)), if wake { std::mem::take(&mut state.waiting) } else { Vec::new() })'
mutant "broadcast-critical-read-does-not-wake-publisher" src/channel/broadcast/subscriber.rs \
    'publisher = state.publisher.take();' 'publisher = state.publisher.clone().filter(|_| false);'
mutant "broadcast-critical-drop-does-not-wake-publisher" src/channel/broadcast/subscriber.rs \
    'state.publisher.take()
            } else' 'state.publisher.take().filter(|_| false)
            } else'
mutant "broadcast-publisher-drop-does-not-wake" src/channel/broadcast/publisher.rs \
    'state.closed = true;
            std::mem::take(&mut state.waiting)' 'state.closed = true;
            Vec::<(u64, Waker)>::new()'
mutant "broadcast-last-subscriber-does-not-wake-driver" src/channel/broadcast/subscriber.rs \
    'state.unsubscribed.take()' 'state.unsubscribed.take().filter(|_| false)'
mutant "broadcast-driver-checks-the-count-instead-of-registering" src/channel/broadcast/drive.rs \
    'if publisher.poll_unsubscribed(cx).is_ready() {' 'if publisher.subscriber_count() == 0 {'
mutant "broadcast-read-does-not-release-the-item" src/channel/broadcast/mod.rs \
    'self.readers = self.readers.saturating_sub(1);' ''
mutant "broadcast-subscriber-keeps-first-waker" src/channel/broadcast/subscriber.rs \
    'Some((_, held)) => *held = cx.waker().clone(),' 'Some(_) => {}'
mutant "broadcast-subscriber-registers-nothing" src/channel/broadcast/subscriber.rs \
    'None => state.waiting.push((self.id, cx.waker().clone())),' 'None => {}'
mutant "broadcast-joining-subscriber-counts-itself-before-the-lock" src/channel/broadcast/subscriber.rs \
    'let mut state = shared.state.lock();
        let id = state.next_id;
        state.next_id += 1;
        shared.subscribers.fetch_add(1, Ordering::AcqRel);' 'shared.subscribers.fetch_add(1, Ordering::AcqRel);
        let mut state = shared.state.lock();
        let id = state.next_id;
        state.next_id += 1;'

# ---- Redis: a source's re-reads, an acker's places ----
mutant "rereads-loads-the-count-asked-first" src/io/redis/source.rs \
    'let out = out.load(Ordering::Acquire);
        asked.load(Ordering::Acquire) > out' 'let asked = asked.load(Ordering::Acquire);
        asked > out.load(Ordering::Acquire)'
mutant "rereads-relaxed" src/io/redis/source.rs \
    'let out = out.load(Ordering::Acquire);' 'let out = out.load(Ordering::Relaxed);' \
    'asked.load(Ordering::Acquire) > out' 'asked.load(Ordering::Relaxed) > out' \
    'self.0.0.fetch_add(1, Ordering::Release);' 'self.0.0.fetch_add(1, Ordering::Relaxed);' \
    'fetch_max(pass, Ordering::Release)' 'fetch_max(pass, Ordering::Relaxed)'
mutant "acker-place-counted-before-the-send" src/io/redis/ack.rs \
    'let mut sent = self.0.lock();
        send();
        *sent += 1;
        *sent' 'let place = {
            let mut sent = self.0.lock();
            *sent += 1;
            *sent
        };
        send();
        place'

# ---- the wake queue (merge, concurrent stages) ----
mutant "wake-queue-queued-mark-never-cleared" src/wake_queue.rs \
    'members[id].queued.store(false, Ordering::Release);' ''
mutant "wake-queue-wake-does-not-flag-the-queue" src/wake_queue.rs \
    'self.any.store(true, Ordering::Release);' ''
mutant "wake-queue-flag-cleared-after-taking-the-queue" src/wake_queue.rs \
    'self.any.store(false, Ordering::Relaxed);
            std::mem::take(&mut *queue)
        };' 'std::mem::take(&mut *queue)
        };
        self.any.store(false, Ordering::Relaxed);'
mutant "wake-queue-wake-does-not-wake-the-owner" src/wake_queue.rs \
    'drop(queue);
        self.parent.wake();' 'drop(queue);'

# ---- merge ----
mutant "merge-pending-without-a-last-look" src/merge/tagged.rs \
    'self.shared.wakes.parent.register(cx.waker());
                registered = true;
                continue;' 'self.shared.wakes.parent.register(cx.waker());
                return Poll::Pending;'
mutant "merge-budget-without-self-wake" src/merge/tagged.rs \
    'if polled == POLL_BUDGET {
                wake_self(cx);' 'if polled == POLL_BUDGET {
                let _ = wake_self;'
mutant "merge-reused-id-keeps-old-waker-state" src/merge/tagged.rs \
    'self.states[id] = state.clone();' 'let _ = &state;'
mutant "merge-handle-push-does-not-notify" src/merge/handle.rs \
    '}
        self.shared.wakes.notify();' '}'
mutant "merge-incoming-flag-cleared-after-taking-the-sources" src/merge/tagged.rs \
    'self.shared.has_incoming.store(false, Ordering::Relaxed);
            std::mem::take(&mut *incoming)
        };' 'std::mem::take(&mut *incoming)
        };
        self.shared.has_incoming.store(false, Ordering::Relaxed);'
mutant "merge-last-handle-does-not-wake" src/merge/handle.rs \
    '// The merge may be waiting only for handles to go: let it look again.
            self.shared.wakes.parent.wake();' ''
mutant "merge-handle-count-relaxed" src/merge/handle.rs \
    'self.shared.has_incoming.store(true, Ordering::Release);' \
    'self.shared.has_incoming.store(true, Ordering::Relaxed);' \
    'fetch_sub(1, Ordering::AcqRel)' 'fetch_sub(1, Ordering::Relaxed)'

# ---- concurrent stages ----
mutant "concurrent-pending-without-a-last-look" src/concurrent/stage.rs \
    'this.pool.register(cx);
            registered = true;' 'this.pool.register(cx);
            return Step::Pending;'
mutant "concurrent-yields-a-later-output-first" src/concurrent/ordered.rs \
    'if at == 0 {' 'if at <= 1 {'

printf 'baseline (no mutant): '
if failed="$(run_models)"; then
    echo "every loom model passes"
else
    echo "FAILED: $failed"
    tail -n 40 "$log"
    exit 1
fi

caught=0 missed=0 broken=0
for i in "${!names[@]}"; do
    name="${names[$i]}"
    wanted=0
    IFS='|' read -ra alternatives <<<"$filter"
    [ "${#alternatives[@]}" -eq 0 ] && alternatives=("")
    for alternative in "${alternatives[@]}"; do
        case "$name" in *"$alternative"*) wanted=1 ;; esac
    done
    [ "$wanted" -eq 1 ] || continue
    file="$work/${files[$i]}"
    cp "$file" "$file.orig"
    if ! apply "$file" "${edits[$i]}"; then
        printf '%-50s DOES NOT APPLY\n' "$name"
        broken=$((broken + 1))
        mv "$file.orig" "$file"
        continue
    fi
    if failed="$(run_models)"; then
        printf '%-50s MISSED\n' "$name"
        missed=$((missed + 1))
    elif [ "$failed" = "(does not compile)" ]; then
        printf '%-50s DOES NOT COMPILE\n' "$name"
        broken=$((broken + 1))
    else
        printf '%-50s caught by %s\n' "$name" "$failed"
        caught=$((caught + 1))
    fi
    mv "$file.orig" "$file"
done

printf '\n%d caught, %d missed, %d not applicable\n' "$caught" "$missed" "$broken"
[ "$missed" -eq 0 ] && [ "$broken" -eq 0 ]
