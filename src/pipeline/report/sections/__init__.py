"""One module per analysis; each turns the `Context` into `Section`s."""
