// Command emptygo does nothing: tools/bench times its start and exit, the Go runtime's
// own cost, beside golock's start and exit (golock --version) and a whole golock run.
package main

func main() {}
