package action

import (
	"errors"
	"testing"
)

func TestAccountCredentials(t *testing.T) {
	t.Parallel()
	usable := func(s string) bool { return s != "" }
	cases := []struct {
		name     string
		def      string
		accounts map[string]string
		account  string
		want     string
		msg      string // of the no_credentials error
	}{
		{"default for every account", "d", nil, "42", "d", ""},
		{"the account's own", "d", map[string]string{"42": "a"}, "42", "a", ""},
		{"an account not listed", "d", map[string]string{"42": "a"}, "7", "",
			`no_credentials: no credentials configured for Acme account "7"`},
		{"none at all", "", nil, "", "", "no_credentials: no Acme Cloud credentials configured"},
		{"a listed account's unusable", "d", map[string]string{"42": ""}, "42", "", "no_credentials: no Acme Cloud credentials configured"},
	}
	for _, tc := range cases {
		got, err := AccountCredentials(tc.def, tc.accounts, tc.account, "Acme", usable)
		var ae *Error
		switch {
		case tc.msg == "" && (err != nil || got != tc.want):
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		case tc.msg != "" && (!errors.As(err, &ae) || ae.Class != Permanent || err.Error() != tc.msg || got != ""):
			t.Errorf("%s: %q, %v; want permanent %q", tc.name, got, err, tc.msg)
		}
	}
}
