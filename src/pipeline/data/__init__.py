"""The data stage: public datasets fetched at a pinned revision and checksummed; restricted ones checked."""
