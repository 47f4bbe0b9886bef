"""vulnpipe: Nessus exports in, owned and verified remediation out."""
__version__ = "0.1.0"
