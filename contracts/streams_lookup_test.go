package contracts_test

import (
	"slices"
	"testing"

	"github.com/natsfn/natsfn/contracts"
)

func TestLookupStream(t *testing.T) {
	d, ok := contracts.LookupStream(contracts.StreamPayments)
	if !ok || !slices.Contains(d.Subjects, contracts.SubjectPaymentsCompleted) || !slices.Contains(d.Subjects, contracts.SubjectPaymentsFailed) {
		t.Fatalf("PAYMENTS: %+v %v", d, ok)
	}
	if _, ok := contracts.LookupStream("NOPE"); ok {
		t.Fatal("found a stream that does not exist")
	}
}
