// Package docs holds golock's documentation, one Markdown file per topic, and the test
// that keeps it true: every relative link resolves, README.md fits on a page or two, its
// quick start runs as written, and every CRONLOCK_ variable it names is in the manual.
package docs
