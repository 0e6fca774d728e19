"""Controllers: each reconciles one kind of work; they never import each other."""
