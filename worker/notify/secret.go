package notify

import (
	"fmt"
	"os"
	"strings"
)

// secrets are a sink's URL and token as read from the environment or
// files. They are kept out of every log line and error.
type secrets struct{ url, token string }

// resolve reads the sink's URL and token. Errors name the sink and the
// variable or file, never a value.
func (s SinkConfig) resolve() (secrets, error) {
	var out secrets
	var err error
	if out.url, err = readSecret(s.URLEnv, s.URLFile); err != nil {
		return out, fmt.Errorf("sink %s: url: %w", s.Name, err)
	}
	if out.url == "" {
		return out, fmt.Errorf("sink %s: url: %s is empty", s.Name, where(s.URLEnv, s.URLFile))
	}
	if !strings.HasPrefix(out.url, "http://") && !strings.HasPrefix(out.url, "https://") {
		return out, fmt.Errorf("sink %s: url (from %s) must start with http:// or https://", s.Name, where(s.URLEnv, s.URLFile))
	}
	if s.TokenEnv != "" || s.TokenFile != "" {
		if out.token, err = readSecret(s.TokenEnv, s.TokenFile); err != nil {
			return out, fmt.Errorf("sink %s: token: %w", s.Name, err)
		}
		if out.token == "" {
			return out, fmt.Errorf("sink %s: token: %s is empty", s.Name, where(s.TokenEnv, s.TokenFile))
		}
	}
	return out, nil
}

func readSecret(env, file string) (string, error) {
	if env != "" {
		return strings.TrimSpace(os.Getenv(env)), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		// The error names the file, never its content.
		return "", fmt.Errorf("read %s: %w", file, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func where(env, file string) string {
	if env != "" {
		return "environment variable " + env
	}
	return "file " + file
}
