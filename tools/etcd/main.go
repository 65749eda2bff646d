// Command etcd is the etcd server of go.etcd.io/etcd/server/v3 at the version go.mod pins.
// etcd's own main package lives in its root module, whose go.mod replaces its sibling
// modules with local directories; this wrapper calls the same entry point.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
