// The target that builds the tests' shared precompiled header (tests/CMakeLists.txt); every
// test reuses it. It has no code of its own.
