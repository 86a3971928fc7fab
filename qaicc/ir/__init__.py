"""IR utilities shared by every qaicc level: the context, printing and parsing."""
