package importer

// Placeholder: this format's parser is being written.
var k8sFormat = Format{Name: "k8s", Detect: never, Parse: notYet("k8s")}
