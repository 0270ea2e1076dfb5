package node

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmtstate "github.com/cometbft/cometbft/state"
	cmtstore "github.com/cometbft/cometbft/store"

	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/store/merkle"
)

// MigrateResult is the outcome of MigrateState.
type MigrateResult struct {
	From, To int    // state formats
	Height   int64  // the height the state was at (and is at)
	AppHash  []byte // its app hash, unchanged
	Backup   string // the copy of the database taken before; "" when nothing was done
}

// MigrateState migrates the state database of a stopped node's home to
// the current format, in place, after copying it aside (data/medchain.db
// → data/medchain.db.format<N>-<time>). Only format 2 homes (medchain
// before the index digest) are migrated; a home already current is left
// as it is.
//
// The state must be at the block store's height, with the app hash
// CometBFT recorded for it: a state one block behind would have CometBFT
// replay that block with the new format's hashing, unlike the other
// validators. Start such a node once with the release that wrote it (it
// replays the stored block without peers), stop it and migrate again.
func MigrateState(home string, now time.Time) (*MigrateResult, error) {
	if !config.Exists(home) {
		return nil, fmt.Errorf("%s has no genesis: not a node home", home)
	}
	dataDir := config.DataDir(home)
	info, err := merkle.ReadInfo(dataDir)
	if err != nil {
		return nil, fmt.Errorf("%w (is the node still running? stop it first)", err)
	}
	res := &MigrateResult{From: info.Format, To: merkle.StateFormat, Height: info.Version, AppHash: info.Root}
	if info.Format == merkle.StateFormat {
		return res, nil
	}
	if info.Format != 2 {
		return nil, fmt.Errorf("%w: %s holds state format %d; only format 2 can be migrated to %d: start a new network",
			merkle.ErrMigrate, dataDir, info.Format, merkle.StateFormat)
	}
	cfg, err := config.Load(home)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	height, appHash, err := cometHeights(cfg.CometBFT(home))
	if err != nil {
		return nil, err
	}
	if height != info.Version {
		return nil, fmt.Errorf("%w: the state is at height %d, the block store at %d: start this node once with the "+
			"medchain release that wrote it (it applies the stored block), stop it, and migrate again", merkle.ErrMigrate, info.Version, height)
	}
	if !bytes.Equal(appHash, info.Root) {
		return nil, fmt.Errorf("%w: the state's app hash at height %d is %X, CometBFT recorded %X", merkle.ErrMigrate, height, info.Root, appHash)
	}
	src := filepath.Join(dataDir, merkle.DBName)
	res.Backup = fmt.Sprintf("%s.format%d-%s", src, info.Format, now.UTC().Format("20060102T150405Z"))
	if err := copyDir(src, res.Backup); err != nil {
		return nil, fmt.Errorf("back up the state before migrating: %w", err)
	}
	if _, err := merkle.MigrateFormat2(dataDir); err != nil {
		return nil, fmt.Errorf("%w; the copy taken before is %s", err, res.Backup)
	}
	return res, nil
}

// cometHeights reads the block store's height and the app hash CometBFT's
// state recorded after its last block.
func cometHeights(cc *cmtcfg.Config) (int64, []byte, error) {
	bdb, err := cmtcfg.DefaultDBProvider(&cmtcfg.DBContext{ID: "blockstore", Config: cc})
	if err != nil {
		return 0, nil, fmt.Errorf("open block store: %w", err)
	}
	height := cmtstore.NewBlockStore(bdb).Height()
	bdb.Close()
	sdb, err := cmtcfg.DefaultDBProvider(&cmtcfg.DBContext{ID: "state", Config: cc})
	if err != nil {
		return 0, nil, fmt.Errorf("open consensus state: %w", err)
	}
	defer sdb.Close()
	st, err := cmtstate.NewStore(sdb, cmtstate.StoreOptions{}).Load()
	if err != nil {
		return 0, nil, fmt.Errorf("load consensus state: %w", err)
	}
	if st.LastBlockHeight != height {
		return 0, nil, fmt.Errorf("%w: CometBFT's state is at height %d, its block store at %d: start this node once with the "+
			"medchain release that wrote it, stop it, and migrate again", merkle.ErrMigrate, st.LastBlockHeight, height)
	}
	return height, st.AppHash, nil
}

// copyDir copies a directory of regular files (a Pebble database) to a new
// directory, syncing each file.
func copyDir(src, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("%s exists", dst)
	}
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		if !d.Type().IsRegular() {
			return errors.New(p + ": not a regular file")
		}
		return copyFile(p, to)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
