package importer

// Placeholder: this format's parser is being written.
var vpcFlowFormat = Format{Name: "vpcflow", Detect: never, Parse: notYet("vpcflow")}
