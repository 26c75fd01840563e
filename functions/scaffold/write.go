package scaffold

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// change is one file to write: new when old is nil, else a file whose
// content was old.
type change struct {
	path      string
	data, old []byte
}

// written is what apply did, so that rollback can undo it.
type written struct {
	root     string
	restored []change // files that existed, with their old content
	created  []string // files and directories that did not, in creation order
}

// apply writes every change. A new file is created exclusively, so a file
// that appeared since the plan is not overwritten; a changed one is
// replaced through a rename, keeping its mode. On an error, what was
// written is undone.
func apply(root string, changes []change) (*written, error) {
	w := &written{root: root}
	for _, c := range changes {
		if err := w.write(c); err != nil {
			if rerr := w.rollback(); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return nil, fmt.Errorf("scaffold: %w\nnothing was written", err)
		}
	}
	return w, nil
}

func (w *written) write(c change) error {
	p := filepath.Join(w.root, filepath.FromSlash(c.path))
	if c.old == nil {
		if err := w.mkdirs(filepath.Dir(p)); err != nil {
			return err
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		w.created = append(w.created, p)
		_, err = f.Write(c.data)
		return errors.Join(err, f.Close())
	}
	info, err := os.Stat(p)
	if err != nil {
		return err
	}
	if err := replace(p, c.data, info.Mode().Perm()); err != nil {
		return err
	}
	w.restored = append(w.restored, c)
	return nil
}

// mkdirs creates dir and the parents it lacks, recording each.
func (w *written) mkdirs(dir string) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
			break
		}
		missing = append(missing, d)
	}
	for _, d := range slices.Backward(missing) {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
		w.created = append(w.created, d)
	}
	return nil
}

// replace writes data to p through a temporary file renamed over it.
func replace(p string, data []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), ".natsfn-new-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	err = errors.Join(err, tmp.Chmod(mode), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}

// rollback puts back the files that existed and removes the new ones,
// newest first, so that directories are empty when their turn comes.
func (w *written) rollback() error {
	var errs []error
	for _, c := range w.restored {
		p := filepath.Join(w.root, filepath.FromSlash(c.path))
		info, err := os.Stat(p)
		if err == nil {
			err = replace(p, c.old, info.Mode().Perm())
		}
		errs = append(errs, err)
	}
	for _, p := range slices.Backward(w.created) {
		errs = append(errs, os.Remove(p))
	}
	return errors.Join(errs...)
}
