module github.com/golock/golock

go 1.26.8

require (
	github.com/caarlos0/env/v11 v11.4.2
	github.com/cpuguy83/go-md2man/v2 v2.0.7
	github.com/google/uuid v1.6.0
	github.com/redis/go-redis/v9 v9.23.0
	github.com/russross/blackfriday/v2 v2.1.0
	golang.org/x/sys v0.50.0
	mvdan.cc/sh/v3 v3.14.1
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
)
