package importer

// Placeholder: this format's parser is being written.
var conntrackFormat = Format{Name: "conntrack", Detect: never, Parse: notYet("conntrack")}
