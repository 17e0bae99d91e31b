"""Sales channels: the parent of every customer and order."""
