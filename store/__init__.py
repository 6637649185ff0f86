"""The bottom floor: settings, engine and sessions, models, counters. Imports no other package."""
