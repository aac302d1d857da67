"""The pure core: no I/O, no clock. Every function takes `today` (or `now`) as a parameter."""
