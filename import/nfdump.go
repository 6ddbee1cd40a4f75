package importer

// Placeholder: this format's parser is being written.
var nfdumpFormat = Format{Name: "nfdump", Detect: never, Parse: notYet("nfdump")}
