//! Plain CPU reference implementations of every op, written for clarity, not speed.
