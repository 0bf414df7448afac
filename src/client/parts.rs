//! Splitting a message's recipients into transactions that keep to the server's
//! `RCPTMAX` and `RCPTDOMAINMAX` (RFC 9422 section 4).
//!
//! As few transactions as possible is bin packing with splittable items (a domain's
//! recipients may be spread over transactions) and a cardinality constraint (the
//! domains per transaction), which is NP-hard in general. Three greedy packings are
//! tried and the one with the fewest transactions wins (the first of them on a tie):
//! envelope order (cut when a transaction is full), first fit decreasing (each domain
//! kept whole where it fits) and next fit decreasing (a domain split to fill a
//! transaction). Together they are optimal when only one limit applies (envelope order
//! for `RCPTMAX` alone, next fit for `RCPTDOMAINMAX` alone) and when `RCPTDOMAINMAX` is
//! 1 (first fit); otherwise they are a good packing, not always the best one.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::wire::{ForwardPath, Limits};

/// The recipients' indexes in the envelope, grouped into transactions that keep to
/// `limits`: each transaction's recipients in envelope order, and a domain's recipients
/// spread over transactions in envelope order. One transaction, in envelope order, when
/// the envelope fits.
pub(super) fn plan<'a, 'b: 'a>(
    recipients: impl IntoIterator<Item = &'a ForwardPath<'b>>,
    limits: Limits,
) -> Vec<Vec<usize>> {
    let recipients = recipients.into_iter();
    if limits.rcpt_max.is_none() && limits.rcpt_domain_max.is_none() {
        let count = recipients.count();
        return match count {
            0 => Vec::new(),
            _ => alloc::vec![(0..count).collect()],
        };
    }
    let per_part = limits.rcpt_max.map_or(usize::MAX, widen);
    let slots = limits.rcpt_domain_max.map_or(usize::MAX, widen);
    // Each domain (`None`: `<Postmaster>`, which has none and takes no slot) with its
    // recipients, in order of first appearance; and each recipient's domain.
    let mut groups: Vec<(Option<String>, Vec<usize>)> = Vec::new();
    let mut known: BTreeMap<Option<String>, usize> = BTreeMap::new();
    let mut keys: Vec<usize> = Vec::new();
    for (index, to) in recipients.enumerate() {
        let key = domain(to);
        let group = *known.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        if let Some((_, members)) = groups.get_mut(group) {
            members.push(index);
        }
        keys.push(group);
    }
    let packer = Packer { per_part, slots, groups: &groups };
    let in_order = packer.envelope_order(&keys);
    if in_order.len() <= 1 {
        return packer.materialize(&in_order);
    }
    // Largest domains first; among equals, the one that comes first in the envelope.
    let mut items: Vec<usize> = (0..groups.len()).collect();
    items.sort_by_key(|&group| core::cmp::Reverse(groups.get(group).map_or(0, |(_, members)| members.len())));
    let mut best = in_order;
    for candidate in [packer.first_fit(&items), packer.next_fit(&items)] {
        if candidate.len() < best.len() {
            best = candidate;
        }
    }
    packer.materialize(&best)
}

/// A limit as a count (a `u32` always fits a `usize` of 32 bits or more).
fn widen(limit: u32) -> usize {
    usize::try_from(limit).unwrap_or(usize::MAX).max(1)
}

/// The domain that `RCPTDOMAINMAX` counts, as the server compares it: the text after the
/// last `@`, without regard to ASCII case. `<Postmaster>` has none.
fn domain(to: &ForwardPath<'_>) -> Option<String> {
    let mailbox = to.mailbox()?;
    let host = mailbox.as_str().rsplit_once('@').map_or("", |(_, host)| host);
    Some(host.to_ascii_lowercase())
}

/// A transaction being packed: how many recipients of which group.
#[derive(Debug, Default, Clone)]
struct Part {
    shares: Vec<(usize, usize)>,
    recipients: usize,
    domains: usize,
}

struct Packer<'a> {
    per_part: usize,
    slots: usize,
    groups: &'a [(Option<String>, Vec<usize>)],
}

impl Packer<'_> {
    /// Whether a group takes a domain slot (every one but `<Postmaster>`).
    fn takes_slot(&self, group: usize) -> bool {
        self.groups.get(group).is_some_and(|(key, _)| key.is_some())
    }

    /// The size of a group.
    fn size(&self, group: usize) -> usize {
        self.groups.get(group).map_or(0, |(_, members)| members.len())
    }

    /// How many more recipients of `group` fit in `part` (`present`: some are in it).
    fn room(&self, part: &Part, group: usize, present: bool) -> usize {
        let slot_free = present || !self.takes_slot(group) || part.domains < self.slots;
        match slot_free {
            true => self.per_part.saturating_sub(part.recipients),
            false => 0,
        }
    }

    /// Adds `count` recipients of `group` to `part` (`present`: some are in it; they
    /// are then its last share, for recipients of a group are added together).
    fn add(&self, part: &mut Part, group: usize, count: usize, present: bool) {
        match part.shares.last_mut() {
            Some((last, share)) if present && *last == group => *share += count,
            _ => {
                part.shares.push((group, count));
                part.domains += usize::from(self.takes_slot(group) && !present);
            }
        }
        part.recipients += count;
    }

    /// The envelope as it comes, a new transaction whenever the next recipient does not
    /// fit the current one.
    fn envelope_order(&self, keys: &[usize]) -> Vec<Part> {
        let mut parts: Vec<Part> = Vec::new();
        // The transaction each group was last added to.
        let mut last_in: Vec<Option<usize>> = alloc::vec![None; self.groups.len()];
        for &group in keys {
            let present = |parts: &Vec<Part>| {
                let current = parts.len().checked_sub(1);
                current.is_some() && last_in.get(group).copied().flatten() == current
            };
            if parts.last().is_none_or(|part| self.room(part, group, present(&parts)) == 0) {
                parts.push(Part::default());
            }
            let present = present(&parts);
            let current = parts.len().checked_sub(1);
            if let Some(part) = parts.last_mut() {
                // A share of one recipient: a group's recipients are not together here
                // (`materialize` takes the shares one after the other).
                part.shares.push((group, 1));
                part.recipients += 1;
                part.domains += usize::from(self.takes_slot(group) && !present);
            }
            if let Some(slot) = last_in.get_mut(group) {
                *slot = current;
            }
        }
        parts
    }

    /// First fit decreasing: a group larger than a transaction fills whole ones, and the
    /// rest of it goes whole into the first transaction it fits, or a new one.
    fn first_fit(&self, items: &[usize]) -> Vec<Part> {
        let mut parts: Vec<Part> = Vec::new();
        // The transactions that can still take a group that takes a slot, in order: room
        // for the smallest one, and a slot.
        let mut open: Vec<usize> = Vec::new();
        let smallest = items.iter().filter(|&&group| self.takes_slot(group)).map(|&group| self.size(group)).min();
        let smallest = smallest.unwrap_or(1).min(self.per_part);
        for &group in items {
            let mut left = self.size(group);
            while left > self.per_part {
                let mut part = Part::default();
                self.add(&mut part, group, self.per_part, false);
                parts.push(part);
                left -= self.per_part;
            }
            if left == 0 {
                continue;
            }
            // The rest of the group is not in any transaction with room (its full ones
            // have none), so it needs a slot, unless it is `<Postmaster>`.
            let found = match self.takes_slot(group) {
                true => open
                    .iter()
                    .copied()
                    .find(|&at| parts.get(at).is_some_and(|part| self.room(part, group, false) >= left)),
                false => parts.iter().position(|part| self.room(part, group, false) >= left),
            };
            let at = match found {
                Some(at) => at,
                None => {
                    parts.push(Part::default());
                    open.push(parts.len() - 1);
                    parts.len() - 1
                }
            };
            if let Some(part) = parts.get_mut(at) {
                self.add(part, group, left, false);
            }
            open.retain(|&at| {
                parts.get(at).is_some_and(|part| {
                    part.domains < self.slots && part.recipients.saturating_add(smallest) <= self.per_part
                })
            });
        }
        parts
    }

    /// Next fit decreasing: groups fill the current transaction, split where it is full.
    fn next_fit(&self, items: &[usize]) -> Vec<Part> {
        let mut parts: Vec<Part> = Vec::new();
        for &group in items {
            let mut left = self.size(group);
            // Whether some of the group are in the current transaction already.
            let mut present = false;
            while left > 0 {
                let room = parts.last().map_or(0, |part| self.room(part, group, present));
                if room == 0 {
                    parts.push(Part::default());
                    present = false;
                    continue;
                }
                let take = left.min(room);
                if let Some(part) = parts.last_mut() {
                    self.add(part, group, take, present);
                }
                present = true;
                left -= take;
            }
        }
        parts
    }

    /// The recipients of each transaction: each group's recipients handed out in
    /// envelope order, transaction after transaction; each transaction in envelope order.
    fn materialize(&self, parts: &[Part]) -> Vec<Vec<usize>> {
        let mut next = alloc::vec![0usize; self.groups.len()];
        let mut plan = Vec::with_capacity(parts.len());
        for part in parts {
            let mut recipients = Vec::with_capacity(part.recipients);
            for &(group, count) in &part.shares {
                let (Some((_, members)), Some(start)) = (self.groups.get(group), next.get_mut(group)) else {
                    continue;
                };
                recipients.extend(members.iter().skip(*start).take(count));
                *start += count;
            }
            recipients.sort_unstable();
            plan.push(recipients);
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use alloc::format;
    use alloc::vec;

    use super::*;

    fn paths(recipients: &[&str]) -> Vec<ForwardPath<'static>> {
        recipients.iter().map(|to| ForwardPath::parse(to).unwrap().into_owned()).collect()
    }

    fn limits(rcpt_max: Option<u32>, rcpt_domain_max: Option<u32>) -> Limits {
        Limits { rcpt_max, rcpt_domain_max, ..Limits::default() }
    }

    #[test]
    fn fits_in_one() {
        let to = paths(&["<a@x>", "<b@y>", "<Postmaster>"]);
        assert_eq!(plan(&to, Limits::default()), [[0, 1, 2]]);
        assert_eq!(plan(&to, limits(Some(3), Some(2))), [[0, 1, 2]]);
        assert!(plan(Vec::<&ForwardPath<'_>>::new(), limits(Some(3), Some(2))).is_empty());
    }

    #[test]
    fn rcptmax_alone_keeps_envelope_order() {
        let to = paths(&["<a@x>", "<b@y>", "<c@x>", "<d@z>", "<e@y>"]);
        assert_eq!(plan(&to, limits(Some(2), None)), [vec![0, 1], vec![2, 3], vec![4]]);
    }

    #[test]
    fn one_domain_per_transaction() {
        let to = paths(&["<a@x>", "<b@y>", "<c@X>", "<d@x>", "<e@x>", "<f@x>", "<g@y>"]);
        // x has 5, y 2: x in 4 + 1, y in 2; the first x transaction takes the first four.
        assert_eq!(plan(&to, limits(Some(4), Some(1))), [vec![0, 2, 3, 4], vec![5], vec![1, 6]]);
    }

    #[test]
    fn splitting_a_domain_fills_transactions() {
        // Six domains of 6, RCPTMAX 10: 36 recipients in 4 transactions (next fit).
        let mut to = Vec::new();
        for domain in ["a", "b", "c", "d", "e", "f"] {
            for user in 0..6 {
                to.push(format!("<u{user}@{domain}>"));
            }
        }
        let to: Vec<&str> = to.iter().map(String::as_str).collect();
        let plan = plan(&paths(&to), limits(Some(10), None));
        assert_eq!(plan.len(), 4);
        // Interleaved domains, RCPTMAX 10 and RCPTDOMAINMAX 2: 9+1, 9+1 fit in two.
        let mut to = Vec::new();
        for user in 0..9 {
            to.push(format!("<u{user}@a>"));
            to.push(format!("<u{user}@b>"));
        }
        to.push("<z@c>".into());
        to.push("<z@d>".into());
        let to: Vec<&str> = to.iter().map(String::as_str).collect();
        let plan = super::plan(&paths(&to), limits(Some(10), Some(2)));
        assert_eq!(plan.len(), 2, "{plan:?}");
    }

    #[test]
    fn postmaster_takes_no_domain_slot() {
        let to = paths(&["<a@x>", "<Postmaster>", "<b@y>"]);
        assert_eq!(plan(&to, limits(None, Some(1))), [vec![0, 1], vec![2]]);
    }

    #[test]
    fn every_recipient_once_and_within_limits() {
        let domains = ["a", "b", "c", "d"];
        for n in 0..24usize {
            let to: Vec<String> = (0..n).map(|i| format!("<u{i}@{}>", domains[(i * 7 + i / 3) % 4])).collect();
            let to: Vec<&str> = to.iter().map(String::as_str).collect();
            let to = paths(&to);
            for rcpt_max in [None, Some(1), Some(2), Some(3), Some(5)] {
                for domain_max in [None, Some(1), Some(2), Some(3)] {
                    let plan = plan(&to, limits(rcpt_max, domain_max));
                    let mut all: Vec<usize> = plan.iter().flatten().copied().collect();
                    all.sort_unstable();
                    assert_eq!(all, (0..n).collect::<Vec<_>>());
                    for part in &plan {
                        assert!(!part.is_empty());
                        assert!(part.len() <= rcpt_max.map_or(usize::MAX, |m| m as usize));
                        let mut seen: Vec<Option<String>> = part.iter().map(|&i| domain(&to[i])).collect();
                        seen.sort();
                        seen.dedup();
                        assert!(seen.len() <= domain_max.map_or(usize::MAX, |m| m as usize));
                        assert!(part.windows(2).all(|w| w[0] < w[1]));
                    }
                }
            }
        }
    }
}
