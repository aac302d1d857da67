"""`rectify demo`: a throwaway county, one inspection round, a simulated month."""
