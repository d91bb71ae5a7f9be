//! Image automation: edit image references in place, registry scanning, write-back to Git.
