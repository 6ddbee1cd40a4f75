package importer

// Placeholder: this format's parser is being written.
var dotFormat = Format{Name: "dot", Detect: never, Parse: notYet("dot")}
