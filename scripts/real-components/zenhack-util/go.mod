// A stand-in for zenhack.net/go/util, which capnproto.org/go/capnp/v3 (Thanos Receive's
// Cap'n Proto replication) imports and which the module proxy this project builds from
// does not serve. It implements only the API capnp v3.0.0-alpha.30 uses; see README.md.
module zenhack.net/go/util

go 1.21
