"""Cross-cutting API machinery: errors, rendering, parsing, paging, channel scoping."""
