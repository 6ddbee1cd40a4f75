package importer

// Formats lists every input format in detection order: the most specific
// signatures first, so that a Backstage or OTLP YAML file is not taken for a
// Kubernetes manifest, nor a Zeek log for a generic flow log.
func Formats() []Format {
	return []Format{
		nativeFormat,
		nmapFormat,
		dotFormat,
		jaegerFormat,
		otelFormat,
		backstageFormat,
		k8sFormat,
		zeekFormat,
		vpcFlowFormat,
		conntrackFormat,
		nfdumpFormat,
	}
}
