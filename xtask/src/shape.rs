//! `cargo xtask shape`: the code's shape, measured. Each crate's module
//! graph must have no cycles, and no source file may reach
//! [`MAX_LINES`] lines.
//!
//! A module depends on another when it names an item of it: a `use`, or a
//! path starting with `crate::`, `super::` or a child module's name. A
//! re-export (`pub use a::Item`) is followed to the module that defines the
//! item, so that using `crate::Event` counts as using `event`, not the
//! crate root. Test modules (`#[cfg(test)]`) are left out: `use super::*`
//! is what they are for.
//!
//! The graph is checked twice: module by module, and with each top-level
//! module and everything below it taken as one (so that `auth` using
//! `hub::headers` while `hub::handle` uses `auth` is a cycle too).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The line count no source file may reach.
pub(crate) const MAX_LINES: usize = 700;

/// The crates checked, by their root file.
const CRATES: [&str; 10] = [
    "sse-core/src/lib.rs",
    "sse-axum/src/lib.rs",
    "sse-actix/src/lib.rs",
    "sse-warp/src/lib.rs",
    "sse-rocket/src/lib.rs",
    "sse-poem/src/lib.rs",
    "sse-client/src/lib.rs",
    "examples/src/lib.rs",
    "conformance/src/lib.rs",
    "xtask/src/main.rs",
];

/// A module by its path from the crate root (empty for the root).
type ModPath = Vec<String>;

/// Runs the checks from `root`, printing what it measured.
pub(crate) fn run(root: &Path) -> Result<(), String> {
    let mut problems = Vec::new();
    for krate in CRATES {
        let graph = Graph::of(&root.join(krate))?;
        let top = graph.top_level();
        let mut cycles = graph.cycles();
        cycles.extend(top.cycles());
        cycles.sort();
        cycles.dedup();
        println!(
            "{krate}: {} modules, {} dependencies; {} top-level modules, {} dependencies; {} cycles",
            graph.files.len(),
            graph.edges.values().map(BTreeSet::len).sum::<usize>(),
            top.files.len(),
            top.edges.values().map(BTreeSet::len).sum::<usize>(),
            cycles.len()
        );
        for cycle in cycles {
            let names: Vec<String> = cycle.iter().map(display).collect();
            problems.push(format!("{krate}: a module cycle: {}", names.join(" ↔ ")));
        }
    }
    let mut sizes = source_sizes(root)?;
    sizes.sort_by_key(|(_, lines)| std::cmp::Reverse(*lines));
    println!("largest files:");
    for (path, lines) in sizes.iter().take(5) {
        println!("  {lines:>5} {}", path.display());
    }
    for (path, lines) in sizes.iter().filter(|(_, lines)| *lines >= MAX_LINES) {
        problems.push(format!(
            "{} has {lines} lines: split it below {MAX_LINES}",
            path.display()
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn display(path: &ModPath) -> String {
    if path.is_empty() {
        "crate".into()
    } else {
        path.join("::")
    }
}

/// One crate's modules and who depends on whom.
struct Graph {
    files: BTreeMap<ModPath, syn::File>,
    edges: BTreeMap<ModPath, BTreeSet<ModPath>>,
}

impl Graph {
    fn of(root_file: &Path) -> Result<Self, String> {
        let mut files = BTreeMap::new();
        load(Vec::new(), root_file, true, &mut files)?;
        let aliases = aliases(&files);
        let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
        for (module, file) in &files {
            let mut refs = References::default();
            refs.visit_file(file);
            for path in refs.paths {
                if let Some(target) = resolve(module, &path, &files, &aliases)
                    && &target != module
                {
                    edges.entry(module.clone()).or_default().insert(target);
                }
            }
        }
        Ok(Self { files, edges })
    }

    /// The same graph with each top-level module standing for everything
    /// below it; the crate root stays on its own.
    fn top_level(&self) -> Graph {
        let top = |path: &ModPath| path.iter().take(1).cloned().collect::<ModPath>();
        let mut files = BTreeMap::new();
        for path in self.files.keys() {
            // Only the modules count here, not their sources.
            files.entry(top(path)).or_insert_with(|| syn::File {
                shebang: None,
                attrs: Vec::new(),
                items: Vec::new(),
            });
        }
        let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
        for (from, targets) in &self.edges {
            for to in targets {
                let (from, to) = (top(from), top(to));
                // A module using its own parts, or the root re-exporting
                // one, says nothing about layering.
                if from != to && !from.is_empty() {
                    edges.entry(from).or_default().insert(to);
                }
            }
        }
        Graph { files, edges }
    }

    /// Strongly connected components of more than one module (Tarjan).
    fn cycles(&self) -> Vec<Vec<ModPath>> {
        struct Walk<'g> {
            graph: &'g Graph,
            index: HashMap<&'g ModPath, usize>,
            low: HashMap<&'g ModPath, usize>,
            stack: Vec<&'g ModPath>,
            on_stack: BTreeSet<&'g ModPath>,
            found: Vec<Vec<ModPath>>,
        }
        impl<'g> Walk<'g> {
            fn visit(&mut self, node: &'g ModPath) {
                let n = self.index.len();
                self.index.insert(node, n);
                self.low.insert(node, n);
                self.stack.push(node);
                self.on_stack.insert(node);
                for next in self.graph.edges.get(node).into_iter().flatten() {
                    if !self.index.contains_key(next) {
                        self.visit(next);
                        let low = self.low[node].min(self.low[next]);
                        self.low.insert(node, low);
                    } else if self.on_stack.contains(next) {
                        let low = self.low[node].min(self.index[next]);
                        self.low.insert(node, low);
                    }
                }
                if self.low[node] == self.index[node] {
                    let mut component = Vec::new();
                    while let Some(member) = self.stack.pop() {
                        self.on_stack.remove(member);
                        component.push(member.clone());
                        if member == node {
                            break;
                        }
                    }
                    if component.len() > 1 {
                        component.sort();
                        self.found.push(component);
                    }
                }
            }
        }
        let mut walk = Walk {
            graph: self,
            index: HashMap::new(),
            low: HashMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            found: Vec::new(),
        };
        for node in self.files.keys() {
            if !walk.index.contains_key(node) {
                walk.visit(node);
            }
        }
        walk.found
    }
}

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .meta
                .require_list()
                .is_ok_and(|list| list.tokens.to_string() == "test")
    })
}

/// The `#[path = "…"]` of a module declaration, if any.
fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| {
        let syn::Meta::NameValue(pair) = &attr.meta else {
            return None;
        };
        if !pair.path.is_ident("path") {
            return None;
        }
        match &pair.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(text),
                ..
            }) => Some(text.value()),
            _ => None,
        }
    })
}

/// Parses `file` as module `module` and every module it declares.
fn load(
    module: ModPath,
    file: &Path,
    owns_dir: bool,
    files: &mut BTreeMap<ModPath, syn::File>,
) -> Result<(), String> {
    let text = std::fs::read_to_string(file)
        .map_err(|err| format!("cannot read {}: {err}", file.display()))?;
    let mut parsed =
        syn::parse_file(&text).map_err(|err| format!("cannot parse {}: {err}", file.display()))?;
    parsed.items.retain(|item| match item {
        syn::Item::Mod(declared) => !is_test_only(&declared.attrs),
        _ => true,
    });
    let dir = file.parent().unwrap_or(Path::new("."));
    let own_dir = if owns_dir {
        dir.to_path_buf()
    } else {
        let stem = file.file_stem().unwrap_or_default();
        dir.join(stem)
    };
    let declared: Vec<(String, Option<String>)> = parsed
        .items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Mod(declared) if declared.content.is_none() => {
                Some((declared.ident.to_string(), path_attr(&declared.attrs)))
            }
            _ => None,
        })
        .collect();
    files.insert(module.clone(), parsed);
    for (name, path) in declared {
        let mut child = module.clone();
        child.push(name.clone());
        let (child_file, child_owns_dir) = match path {
            Some(path) => (dir.join(path), false),
            None => {
                let flat = own_dir.join(format!("{name}.rs"));
                if flat.is_file() {
                    (flat, false)
                } else {
                    (own_dir.join(&name).join("mod.rs"), true)
                }
            }
        };
        load(child, &child_file, child_owns_dir, files)?;
    }
    Ok(())
}

/// Every path a module names, `use` trees flattened.
#[derive(Default)]
struct References {
    paths: Vec<Vec<String>>,
}

impl<'ast> Visit<'ast> for References {
    fn visit_item_mod(&mut self, module: &'ast syn::ItemMod) {
        if !is_test_only(&module.attrs) {
            syn::visit::visit_item_mod(self, module);
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        flatten(&item.tree, &mut Vec::new(), &mut |path, _| {
            self.paths.push(path);
        });
    }

    /// `pub(crate)` and `pub(super)` say who may use an item, not what it
    /// uses.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.paths
            .push(path.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, path);
    }
}

/// Calls `each` with every full path of a `use` tree and the name it is
/// brought in as.
fn flatten(
    tree: &syn::UseTree,
    prefix: &mut Vec<String>,
    each: &mut dyn FnMut(Vec<String>, String),
) {
    match tree {
        syn::UseTree::Path(path) => {
            prefix.push(path.ident.to_string());
            flatten(&path.tree, prefix, each);
            prefix.pop();
        }
        syn::UseTree::Name(name) => {
            let mut full = prefix.clone();
            full.push(name.ident.to_string());
            each(full, name.ident.to_string());
        }
        syn::UseTree::Rename(rename) => {
            let mut full = prefix.clone();
            full.push(rename.ident.to_string());
            each(full, rename.rename.to_string());
        }
        syn::UseTree::Glob(_) => each(prefix.clone(), "*".into()),
        syn::UseTree::Group(group) => {
            for tree in &group.items {
                flatten(tree, prefix, each);
            }
        }
    }
}

/// Re-exports: (module, name) → the module the name comes from.
fn aliases(files: &BTreeMap<ModPath, syn::File>) -> HashMap<(ModPath, String), ModPath> {
    let mut found = HashMap::new();
    for (module, file) in files {
        for item in &file.items {
            let syn::Item::Use(item) = item else {
                continue;
            };
            if matches!(item.vis, syn::Visibility::Inherited) {
                continue;
            }
            flatten(&item.tree, &mut Vec::new(), &mut |path, name| {
                if name == "*" || name == "self" {
                    return;
                }
                let absolute = absolute(module, &path[..path.len().saturating_sub(1)]);
                if let Some(source) = absolute.filter(|source| files.contains_key(source)) {
                    found.insert((module.clone(), name), source);
                }
            });
        }
    }
    found
}

/// `path` (a module path as written in `module`) from the crate root, if
/// it starts at `crate`, `super`, `self` or a child of `module`.
fn absolute(module: &ModPath, path: &[String]) -> Option<ModPath> {
    let (first, rest) = path.split_first()?;
    match first.as_str() {
        "crate" => Some(rest.to_vec()),
        "self" => Some([module.as_slice(), rest].concat()),
        "super" => {
            let mut base = module.clone();
            base.pop()?;
            let mut rest = rest;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
            Some([base.as_slice(), rest].concat())
        }
        _ => Some([module.as_slice(), path].concat()),
    }
}

/// The module `path`, named in `module`, depends on: the longest module
/// prefix of its absolute form, following re-exports to where an item is
/// defined. `None` for paths outside the crate.
fn resolve(
    module: &ModPath,
    path: &[String],
    files: &BTreeMap<ModPath, syn::File>,
    aliases: &HashMap<(ModPath, String), ModPath>,
) -> Option<ModPath> {
    let mut full = absolute(module, path)?;
    // A bare name is a child module only if one exists by that name.
    let first_is_local = !matches!(
        path.first().map(String::as_str),
        Some("crate" | "self" | "super")
    );
    if first_is_local {
        let mut child = module.clone();
        child.push(path.first()?.clone());
        if !files.contains_key(&child) {
            return None;
        }
    }
    // Follow re-exports, a few hops at most.
    for _ in 0..8 {
        let mut moved = false;
        for split in 0..full.len() {
            let (owner, rest) = full.split_at(split);
            if !files.contains_key(owner) {
                break;
            }
            let mut as_module = owner.to_vec();
            as_module.push(rest[0].clone());
            if files.contains_key(&as_module) {
                continue;
            }
            if let Some(source) = aliases.get(&(owner.to_vec(), rest[0].clone())) {
                full = [source.as_slice(), rest].concat();
                moved = true;
            }
            break;
        }
        if !moved {
            break;
        }
    }
    (0..=full.len())
        .rev()
        .map(|len| full[..len].to_vec())
        .find(|prefix| files.contains_key(prefix))
}

/// Every `.rs` file of the workspace, with its line count.
fn source_sizes(root: &Path) -> Result<Vec<(PathBuf, usize)>, String> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|err| format!("cannot list {}: {err}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if !(name.starts_with('.') || name == "target" || name == "node_modules") {
                    dirs.push(path);
                }
            } else if name.ends_with(".rs") {
                let text = std::fs::read_to_string(&path)
                    .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
                let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
                found.push((relative, text.lines().count()));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(files: &[(&str, &str)]) -> Graph {
        let dir = std::env::temp_dir().join(format!("xtask-shape-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("a dir");
            std::fs::write(&path, text).expect("written");
        }
        let graph = Graph::of(&dir.join("lib.rs")).expect("parsed");
        let _ = std::fs::remove_dir_all(&dir);
        graph
    }

    #[test]
    fn a_child_using_its_parent_is_a_cycle_and_a_re_export_is_not() {
        let cyclic = graph(&[
            ("lib.rs", "mod a;\n"),
            (
                "a/mod.rs",
                "mod b;\npub struct Shared;\npub use b::Thing;\n",
            ),
            ("a/b.rs", "use super::Shared;\npub struct Thing(Shared);\n"),
        ]);
        assert_eq!(
            cyclic.cycles(),
            vec![vec![
                vec!["a".to_owned()],
                vec!["a".to_owned(), "b".to_owned()]
            ]]
        );
        let layered = graph(&[
            ("lib.rs", "mod event;\nmod user;\npub use event::Event;\n"),
            ("event.rs", "pub struct Event;\n"),
            (
                "user.rs",
                "use crate::Event;\n#[cfg(test)]\nmod tests { use super::*; }\n",
            ),
        ]);
        assert!(layered.cycles().is_empty());
        // Parts of two modules using each other make the two a cycle.
        let across = graph(&[
            ("lib.rs", "mod auth;\nmod hub;\n"),
            (
                "auth.rs",
                "use crate::hub::headers::Headers;\npub struct Grants;\n",
            ),
            ("hub/mod.rs", "pub mod headers;\nmod handle;\n"),
            ("hub/headers.rs", "pub struct Headers;\n"),
            ("hub/handle.rs", "use crate::auth::Grants;\n"),
        ]);
        assert!(across.cycles().is_empty(), "no cycle module by module");
        assert_eq!(
            across.top_level().cycles(),
            vec![vec![vec!["auth".to_owned()], vec!["hub".to_owned()]]]
        );
        assert!(layered.edges[&vec!["user".to_owned()]].contains(&vec!["event".to_owned()]));
    }
}
