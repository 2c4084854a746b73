"""``/v2beta/query`` in four stages: parse -> plan -> execute -> render (style.md practice 6)."""
