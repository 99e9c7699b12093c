"""The template's own tests: render it with pytest-cookies, then check what it rendered."""
