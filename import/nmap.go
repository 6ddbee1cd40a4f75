package importer

// Placeholder: this format's parser is being written.
var nmapFormat = Format{Name: "nmap", Detect: never, Parse: notYet("nmap")}
