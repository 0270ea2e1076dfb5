package epcis

// CBV 2.0 vocabulary (GS1 Core Business Vocabulary 2.0 and the EPCIS 2.0
// JSON-LD context's term lists).

const cbvPrefix = "https://ref.gs1.org/cbv/"

var cbvBizSteps = []string{
	"accepting", "arriving", "assembling", "collecting", "commissioning", "consigning",
	"creating_class_instance", "cycle_counting", "decommissioning", "departing", "destroying",
	"disassembling", "dispensing", "encoding", "entering_exiting", "holding", "inspecting",
	"installing", "killing", "loading", "other", "packing", "picking", "receiving", "removing",
	"repackaging", "repairing", "replacing", "reserving", "retail_selling", "sampling",
	"sensor_reporting", "shipping", "staging_outbound", "stock_taking", "stocking", "storing",
	"transporting", "unloading", "unpacking", "void_shipping",
}

var cbvDispositions = []string{
	"active", "available", "completeness_verified", "completeness_inferred", "conformant",
	"container_closed", "container_open", "damaged", "destroyed", "dispensed", "disposed",
	"encoded", "expired", "in_progress", "in_transit", "inactive", "mismatch_instance",
	"mismatch_class", "mismatch_quantity", "needs_replacement", "no_pedigree_match",
	"non_conformant", "non_sellable_other", "partially_dispensed", "recalled", "reserved",
	"retail_sold", "returned", "sellable_accessible", "sellable_not_accessible", "stolen",
	"unavailable", "unknown",
}

var cbvBTTs = []string{
	"bol", "cert", "desadv", "inv", "pedigree", "po", "poc", "prodorder", "recadv", "rma",
	"testprd", "testres", "upevt",
}

var cbvSDTs = []string{"owning_party", "possessing_party", "location"}
