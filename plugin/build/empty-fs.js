// Stand-in for `fs` inside gray-matter only: its `matter.read(file)` helper (never called by
// OWP Pool) is the one user of `fs`. Any other Node built-in import fails the build.
module.exports = {};
