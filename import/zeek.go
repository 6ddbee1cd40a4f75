package importer

// Placeholder: this format's parser is being written.
var zeekFormat = Format{Name: "zeek", Detect: never, Parse: notYet("zeek")}
