package apptest

import (
	"testing"

	"github.com/medchain/medchain/gs1"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/supply"
)

// The supply-chain organizations of Supply(), beyond the default pharmacy.
const (
	OrgManufacturer = "dev-manufacturer"
	OrgDistributor  = "dev-distributor"
	OrgRegulator    = "dev-regulator"

	ManufacturerAdmin = "manufacturer-admin"
	DistributorAdmin  = "distributor-admin"
	RegulatorAdmin    = "regulator-admin"

	// SupplyGTIN is the product of the js/epcis scenario
	// (internal/epcis/testdata/scenario).
	SupplyGTIN = "00614141123452"
)

// The GLNs of the js/epcis scenario: each organization's party and site.
var (
	GLNManufacturer = glnOf("061414100001")
	GLNDistributor  = glnOf("001234500010")
	GLNPharmacy     = glnOf("009876500020")
)

func glnOf(twelve string) string { return twelve + string(gs1.CheckDigit(twelve)) }

// Supply is the default network plus a manufacturer, a distributor and a
// regulator, with an admin each.
func Supply() Config {
	return Config{
		Orgs: []accounts.GenesisOrg{
			{ID: OrgManufacturer, Name: "Development Pharma", Type: "manufacturer"},
			{ID: OrgDistributor, Name: "Development Wholesale", Type: "distributor"},
			{ID: OrgRegulator, Name: "Development Medicines Agency", Type: "regulator"},
		},
		Members: []Member{
			{Name: ManufacturerAdmin, Org: OrgManufacturer, Role: accounts.RoleAdmin},
			{Name: DistributorAdmin, Org: OrgDistributor, Role: accounts.RoleAdmin},
			{Name: RegulatorAdmin, Org: OrgRegulator, Role: accounts.RoleAdmin},
		},
	}
}

// SupplyMasterData registers, in one block, the scenario's product, each
// organization's GLN, and the trading partners manufacturer ⇄ distributor
// ⇄ pharmacy.
func (h *Harness) SupplyMasterData(t testing.TB) {
	t.Helper()
	maker, whole, pharm := Key(ManufacturerAdmin), Key(DistributorAdmin), Key(PharmacyAdmin)
	h.DeliverOK(t,
		h.Sign(maker, &supply.MsgProduct{GTIN: SupplyGTIN, Name: "Amoxicillin 500 mg capsules", NDC: "0614-1123-45", Strength: "500mg", Form: "capsule", PackSize: 30}),
		h.Sign(maker, &supply.MsgLocation{GLN: GLNManufacturer, Name: "Plant 1"}),
		h.Sign(whole, &supply.MsgLocation{GLN: GLNDistributor, Name: "Warehouse"}),
		h.Sign(pharm, &supply.MsgLocation{GLN: GLNPharmacy, Name: "Main Street pharmacy"}),
		h.Sign(maker, &supply.MsgPartner{Partner: OrgDistributor}),
		h.Sign(whole, &supply.MsgPartner{Partner: OrgManufacturer}),
		h.Sign(whole, &supply.MsgPartner{Partner: OrgPharmacy}),
		h.Sign(pharm, &supply.MsgPartner{Partner: OrgDistributor}),
	)
}
