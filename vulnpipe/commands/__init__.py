"""One module per command; each registers itself on :data:`vulnpipe.cli.app`."""
