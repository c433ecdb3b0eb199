//! `$or` expansion: a read pattern becomes one tree of [`Node`]s per combination of `$or`
//! alternatives, each alternative carrying the fields around it, as EventBridge's
//! compiler does (its `JsonRuleCompiler` forks a sub-rule per alternative). Within one
//! tree, the fields an alternative adds under a key join that key's other fields, so in
//! an array of objects they must all come from one element, as in EventBridge.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::super::{Field, Leaf, Node, PatternError};
use super::Path;

/// EventBridge refuses a pattern whose `$or`s combine into more sub-patterns than this.
const MAX_COMBINATIONS: u64 = 1000;

/// A pattern object as read, before `$or` expansion.
#[derive(Debug, Default)]
pub(super) struct Object {
    pub(super) fields: Vec<(String, Part)>,
    /// The alternatives of this level's `$or` (a JSON object has at most one).
    pub(super) or: Vec<Object>,
}

#[derive(Debug)]
pub(super) enum Part {
    Leaf(Arc<Leaf>),
    Object(Object),
}

/// The leaf fields of one sub-pattern: key paths and their conditions.
type Flat = Vec<(Vec<String>, Arc<Leaf>)>;

impl Object {
    /// How many sub-patterns the `$or`s expand into.
    fn combinations(&self) -> u64 {
        let mut n: u64 = 1;
        for (_, part) in &self.fields {
            if let Part::Object(o) = part {
                n = n.saturating_mul(o.combinations());
            }
        }
        if !self.or.is_empty() {
            let alternatives = self
                .or
                .iter()
                .fold(0u64, |sum, o| sum.saturating_add(o.combinations()));
            n = n.saturating_mul(alternatives);
        }
        n
    }

    /// Adds this object's fields, under `prefix`, to every sub-pattern in `flats`, one
    /// copy of them per `$or` alternative.
    fn expand(&self, prefix: &mut Vec<String>, mut flats: Vec<Flat>) -> Vec<Flat> {
        for (key, part) in &self.fields {
            prefix.push(key.clone());
            match part {
                Part::Leaf(leaf) => {
                    for flat in &mut flats {
                        flat.push((prefix.clone(), Arc::clone(leaf)));
                    }
                }
                Part::Object(object) => flats = object.expand(prefix, flats),
            }
            prefix.pop();
        }
        if !self.or.is_empty() {
            let mut out = Vec::new();
            for alternative in &self.or {
                out.extend(alternative.expand(prefix, flats.clone()));
            }
            flats = out;
        }
        flats
    }
}

/// One sub-pattern as a tree; a leaf path given twice is reported once in `errors`.
fn build(flat: &Flat, errors: &mut Vec<PatternError>) -> Node {
    #[derive(Default)]
    struct Builder {
        leaf: Option<Arc<Leaf>>,
        child: BTreeMap<String, Builder>,
    }
    fn finish(level: BTreeMap<String, Builder>) -> Node {
        let fields: Vec<Field> = level
            .into_iter()
            .map(|(key, b)| Field {
                key: key.into(),
                leaf: b.leaf,
                child: (!b.child.is_empty()).then(|| finish(b.child)),
            })
            .collect();
        let absent_ok = fields.iter().all(|f| {
            f.leaf.as_ref().is_none_or(|l| l.absent) && f.child.as_ref().is_none_or(|c| c.absent_ok)
        });
        Node { fields, absent_ok }
    }

    let mut root: BTreeMap<String, Builder> = BTreeMap::new();
    for (path, leaf) in flat {
        let Some((last, parents)) = path.split_last() else {
            continue;
        };
        let mut level = &mut root;
        for key in parents {
            level = &mut level.entry(key.clone()).or_default().child;
        }
        let slot = level.entry(last.clone()).or_default();
        if slot.leaf.is_some() {
            let at = path.iter().fold(Path::default(), |p, k| p.key(k)).0;
            let reason = "is matched both inside and outside an $or alternative (or in two \
                          nested ones); EventBridge would keep only the one written last: put \
                          the condition in each alternative instead";
            if !errors.iter().any(|e| e.path == at) {
                errors.push(PatternError {
                    path: at,
                    reason: reason.to_owned(),
                });
            }
        } else {
            slot.leaf = Some(Arc::clone(leaf));
        }
    }
    finish(root)
}

/// The trees of a valid pattern, or the problems only the expansion finds: too many
/// combinations, or a path given twice in one of them.
pub(super) fn branches(root: &Object) -> Result<Vec<Node>, Vec<PatternError>> {
    let combinations = root.combinations();
    if combinations > MAX_COMBINATIONS {
        return Err(vec![PatternError {
            path: String::new(),
            reason: format!(
                "the $or alternatives combine into {} sub-patterns; EventBridge allows at most \
                 {MAX_COMBINATIONS} (multiply the number of alternatives of each $or): split \
                 the rule, or list values in one field's array instead of in $or",
                if combinations == u64::MAX {
                    "too many".to_owned()
                } else {
                    combinations.to_string()
                }
            ),
        }]);
    }
    let mut errors = Vec::new();
    let trees = root
        .expand(&mut Vec::new(), vec![Vec::new()])
        .iter()
        .map(|flat| build(flat, &mut errors))
        .collect();
    if errors.is_empty() {
        Ok(trees)
    } else {
        Err(errors)
    }
}
