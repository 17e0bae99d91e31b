"""Sales channel customers: the spec's eight operations live here."""
