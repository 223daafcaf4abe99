//! The layout of a snapshot, read from its `snapshot` header: which raw field of a node or
//! edge record means what, the type names, and the declared counts. Kept apart from the
//! reader so the streaming code deals only in positions, never in field names.

use serde::Deserialize;

use super::SnapshotError;

/// The part of the `snapshot` header the reader needs.
#[derive(Debug, Deserialize)]
pub(super) struct Header {
    meta: Meta,
    node_count: u64,
    edge_count: u64,
}

#[derive(Debug, Deserialize)]
struct Meta {
    node_fields: Vec<String>,
    node_types: Vec<serde_json::Value>,
    edge_fields: Vec<String>,
    edge_types: Vec<serde_json::Value>,
    #[serde(default)]
    location_fields: Vec<String>,
    #[serde(default)]
    trace_function_info_fields: Vec<String>,
    #[serde(default)]
    trace_node_fields: Vec<String>,
}

/// Where each raw node field goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum NodeField {
    Type,
    Name,
    Id,
    SelfSize,
    EdgeCount,
    TraceNodeId,
    Detachedness,
    Ignored,
}

/// Where each raw edge field goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum EdgeField {
    Type,
    NameOrIndex,
    ToNode,
    Ignored,
}

/// The layout read from the header.
pub(super) struct Layout {
    pub(super) node_fields: Vec<NodeField>,
    pub(super) edge_fields: Vec<EdgeField>,
    pub(super) node_count: u32,
    pub(super) edge_count: u32,
    pub(super) location_fields: Vec<String>,
    pub(super) trace_function_info_fields: Vec<String>,
    pub(super) trace_node_fields: Vec<String>,
}

/// Splits the header into node types, edge types and the layout.
pub(super) fn layout_from(
    header: Header,
    at: u64,
) -> Result<(Vec<String>, Vec<String>, Layout), SnapshotError> {
    let meta = header.meta;
    let bad = |message: String| SnapshotError::Header {
        offset: at,
        message,
    };
    let node_fields: Vec<NodeField> = meta
        .node_fields
        .iter()
        .map(|f| match f.as_str() {
            "type" => NodeField::Type,
            "name" => NodeField::Name,
            "id" => NodeField::Id,
            "self_size" => NodeField::SelfSize,
            "edge_count" => NodeField::EdgeCount,
            "trace_node_id" => NodeField::TraceNodeId,
            "detachedness" => NodeField::Detachedness,
            _ => NodeField::Ignored,
        })
        .collect();
    for (need, name) in [
        (NodeField::Type, "type"),
        (NodeField::Name, "name"),
        (NodeField::Id, "id"),
        (NodeField::SelfSize, "self_size"),
        (NodeField::EdgeCount, "edge_count"),
    ] {
        if !node_fields.contains(&need) {
            return Err(bad(format!("`meta.node_fields` has no `{name}`")));
        }
    }
    let edge_fields: Vec<EdgeField> = meta
        .edge_fields
        .iter()
        .map(|f| match f.as_str() {
            "type" => EdgeField::Type,
            "name_or_index" => EdgeField::NameOrIndex,
            "to_node" => EdgeField::ToNode,
            _ => EdgeField::Ignored,
        })
        .collect();
    for (need, name) in [
        (EdgeField::Type, "type"),
        (EdgeField::NameOrIndex, "name_or_index"),
        (EdgeField::ToNode, "to_node"),
    ] {
        if !edge_fields.contains(&need) {
            return Err(bad(format!("`meta.edge_fields` has no `{name}`")));
        }
    }
    let type_pos = node_fields
        .iter()
        .position(|f| *f == NodeField::Type)
        .unwrap_or(0);
    let edge_type_pos = edge_fields
        .iter()
        .position(|f| *f == EdgeField::Type)
        .unwrap_or(0);
    let node_types = enum_at(&meta.node_types, type_pos)
        .ok_or_else(|| bad("`meta.node_types` does not list the node types".to_string()))?;
    let edge_types = enum_at(&meta.edge_types, edge_type_pos)
        .ok_or_else(|| bad("`meta.edge_types` does not list the edge types".to_string()))?;
    if node_types.len() > 256 || edge_types.len() > 256 {
        return Err(bad("more than 256 node or edge types".to_string()));
    }
    let node_count = u32::try_from(header.node_count)
        .map_err(|_| bad(format!("node_count {} is too large", header.node_count)))?;
    let edge_count = u32::try_from(header.edge_count)
        .map_err(|_| bad(format!("edge_count {} is too large", header.edge_count)))?;
    Ok((
        node_types,
        edge_types,
        Layout {
            node_fields,
            edge_fields,
            node_count,
            edge_count,
            location_fields: meta.location_fields,
            trace_function_info_fields: meta.trace_function_info_fields,
            trace_node_fields: meta.trace_node_fields,
        },
    ))
}

/// The names of the enum field at `pos` (`meta.node_types[pos]` is an array of names).
fn enum_at(types: &[serde_json::Value], pos: usize) -> Option<Vec<String>> {
    let names = types.get(pos)?.as_array()?;
    Some(
        names
            .iter()
            .map(|v| v.as_str().unwrap_or("unknown").to_string())
            .collect(),
    )
}
