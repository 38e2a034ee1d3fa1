//! Books and stop words from folders and URLs.
