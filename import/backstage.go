package importer

// Placeholder: this format's parser is being written.
var backstageFormat = Format{Name: "backstage", Detect: never, Parse: notYet("backstage")}
