#!/usr/bin/env node
// The vfio-display command. A file of its own, present before the build, so
// package managers can link it at install time; the compiled CLI does the work.
import '../dist/cli/main.js';
