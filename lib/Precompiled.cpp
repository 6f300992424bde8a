// The target that builds lib/Precompiled.h; it has no code of its own.
