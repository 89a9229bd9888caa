"""One module per page of the app, each with `draw(setup, settings)`."""
