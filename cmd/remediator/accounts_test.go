package main

import (
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestAccountsFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/sk", "file-secret-value\n")
	t.Setenv("ORG_A_AK", "AKORGA")
	t.Setenv("ORG_A_SK", "env-secret-value")
	writeFile(t, dir+"/accounts.yaml", `
huawei:
  accounts:
    5f1e2d3c4b5a69788796a5b4c3d2e1f0: {access_key_env: ORG_A_AK, secret_key_env: ORG_A_SK}
    0123456789abcdef0123456789abcdef: {access_key_env: ORG_A_AK, secret_key_file: `+dir+`/sk, agency: remediator}
alibaba:
  accounts:
    "1234567890123456": {access_key_env: ORG_A_AK, secret_key_env: ORG_A_SK, role_arn: "acs:ram::1234567890123456:role/remediator"}
    "6543210987654321": {ecs_ram_role: remediator-instance}
`)
	af, err := loadAccounts(dir + "/accounts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := huaweiConfig(af.Huawei, providerConfig{}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Accounts) != 2 || cfg.Accounts["0123456789abcdef0123456789abcdef"].SecretKey != "file-secret-value" ||
		cfg.Accounts["5f1e2d3c4b5a69788796a5b4c3d2e1f0"].SecretKey != "env-secret-value" ||
		cfg.Accounts["0123456789abcdef0123456789abcdef"].Agency != "remediator" {
		t.Errorf("huawei accounts not resolved: %d", len(cfg.Accounts))
	}
	acfg, err := alibabaConfig(af.Alibaba, providerConfig{}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if a := acfg.Accounts["1234567890123456"]; a.AccessKeySecret != "env-secret-value" || a.RoleARN != "acs:ram::1234567890123456:role/remediator" {
		t.Errorf("alibaba account not resolved: %v", a)
	}
	if a := acfg.Accounts["6543210987654321"]; a.InstanceRole != "remediator-instance" || a.AccessKeyID != "" {
		t.Errorf("instance role account: %v", a)
	}
}

func TestAccountsFileErrors(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("EMPTY_SECRET", "")
	cases := []struct{ name, src, want string }{
		{"inline secret", "huawei:\n  default: {access_key: AK, secret_key: plain}\n", "field access_key not found"},
		{"empty env", "huawei:\n  default: {access_key_env: EMPTY_SECRET, secret_key_env: EMPTY_SECRET}\n", "environment variable EMPTY_SECRET is empty"},
		{"missing file", "huawei:\n  accounts:\n    x: {access_key_env: HOME, secret_key_file: /nonexistent/sk}\n", "huawei.accounts.x: secret_key: open /nonexistent/sk"},
		{"both", "huawei:\n  default: {access_key_env: HOME, access_key_file: /x, secret_key_env: HOME}\n", "give access_key_env or access_key_file, not both"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			writeFile(t, dir+"/a.yaml", tc.src)
			af, err := loadAccounts(dir + "/a.yaml")
			if err == nil {
				_, err = huaweiConfig(af.Huawei, providerConfig{}, zap.NewNop())
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
