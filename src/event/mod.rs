//! Events: the envelope, the 16 typed bodies, fixed-point energy, and the JSON Lines form.
//! (Placeholder; filled in by the events work.)
