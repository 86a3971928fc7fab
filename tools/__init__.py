"""qaicc's command-line tools (installed as ``qaicc.tools``)."""
