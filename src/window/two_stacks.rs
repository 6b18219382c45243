//! [`TwoStacks`]: a FIFO queue of accumulators that reports the combination of everything in
//! it in amortized O(1) per operation, for any associative combine (max and min included).

/// A queue of accumulators with an O(1) amortized "combine everything".
///
/// New values go on the *back* stack, which keeps the running combination of its contents.
/// Values leave from the *front* stack, each entry of which stores the combination of itself
/// and every entry pushed before it (the entries behind it in queue order). When the front
/// stack is empty, the back stack is flipped onto it, recomputing those combinations once per
/// value. Every value is flipped at most once, so push, pop and query are amortized O(1),
/// whatever the queue's length.
#[derive(Debug, Clone)]
pub(crate) struct TwoStacks<A> {
    front: Vec<(A, A)>,
    back: Vec<A>,
    back_all: A,
    identity: A,
}

impl<A: Clone> TwoStacks<A> {
    pub(crate) fn new(identity: A) -> Self {
        TwoStacks {
            front: Vec::new(),
            back: Vec::new(),
            back_all: identity.clone(),
            identity,
        }
    }

    /// The identity the queue was made with.
    pub(crate) fn identity(&self) -> &A {
        &self.identity
    }

    pub(crate) fn len(&self) -> usize {
        self.front.len() + self.back.len()
    }

    pub(crate) fn push(&mut self, value: A, combine: impl Fn(&A, &A) -> A) {
        self.back_all = combine(&self.back_all, &value);
        self.back.push(value);
    }

    pub(crate) fn pop(&mut self, combine: impl Fn(&A, &A) -> A) {
        if self.front.is_empty() {
            while let Some(value) = self.back.pop() {
                let below = self.front.last().map_or(&self.identity, |(_, all)| all);
                let all = combine(&value, below);
                self.front.push((value, all));
            }
            self.back_all = self.identity.clone();
        }
        self.front.pop();
    }

    /// The combination of every value in the queue, oldest first.
    pub(crate) fn query(&self, combine: impl Fn(&A, &A) -> A) -> A {
        let front = self.front.last().map_or(&self.identity, |(_, all)| all);
        combine(front, &self.back_all)
    }

    pub(crate) fn clear(&mut self) {
        self.front.clear();
        self.back.clear();
        self.back_all = self.identity.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_max_matches_recomputation() {
        let max = |a: &i64, b: &i64| *a.max(b);
        let values: Vec<i64> = (0..200).map(|i| (i * 7919 % 101) - 50).collect();
        let mut q = TwoStacks::new(i64::MIN);
        for (i, v) in values.iter().enumerate() {
            q.push(*v, max);
            if q.len() > 10 {
                q.pop(max);
            }
            let lo = i.saturating_sub(9);
            assert_eq!(q.query(max), *values[lo..=i].iter().max().unwrap());
        }
    }
}
